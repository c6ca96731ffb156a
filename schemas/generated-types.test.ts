import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SchemaCatalog } from './catalog.ts'
import { ERROR_TYPES, PIPELINE_KINDS, REQUEST_STATUSES, SAMPLE_SOURCES } from './generated/types.ts'
import { GENERATED_TYPES_PATH, GENERATOR_COMMAND, pluralConstName, renderSchemaTypes } from './type-renderer.ts'

describe('generated types', () => {
  it(`${GENERATED_TYPES_PATH} is up to date`, () => {
    const committed = readFileSync(new URL('./generated/types.ts', import.meta.url), 'utf8')
    expect(committed === renderSchemaTypes(), `${GENERATED_TYPES_PATH} is stale: run ${GENERATOR_COMMAND}`).toBe(true)
  })

  it('enum symbol arrays are the schema symbols, in order', () => {
    expect(ERROR_TYPES).toEqual([
      'oom', 'timeout', 'queue_timeout', 'invalid_input', 'safety_blocked', 'model_error', 'upstream', 'gpu_fault', 'cancelled', 'internal',
    ])
    expect(PIPELINE_KINDS).toEqual(['txt2img', 'img2img', 'inpaint', 'upscale', 'other'])
    expect(REQUEST_STATUSES).toEqual(['ok', 'error'])
    expect(SAMPLE_SOURCES).toEqual(['nvidia_smi', 'dcgm', 'simulated'])
  })

  it('names symbol arrays in plural snake case', () => {
    expect(['ErrorType', 'RequestStatus', 'SampleSource', 'GpuFamily', 'PipelineKind', 'Box'].map(pluralConstName)).toEqual([
      'ERROR_TYPES', 'REQUEST_STATUSES', 'SAMPLE_SOURCES', 'GPU_FAMILIES', 'PIPELINE_KINDS', 'BOXES',
    ])
  })

  it('renders a newer version, with nullable, array and map fields', () => {
    const v2 = JSON.parse(readFileSync(new URL('./gpu-sample.v1.avsc', import.meta.url), 'utf8')) as { fields: unknown[] }
    v2.fields.push({ name: 'labels', type: { type: 'map', values: ['null', 'string'] }, default: {}, doc: 'Host labels.' })
    v2.fields.push({ name: 'fans', type: { type: 'array', items: ['null', 'int'] }, default: [] })
    const text = renderSchemaTypes(new SchemaCatalog({ extraSchemas: [{ kind: 'gpu-sample', version: 2, schema: v2 }] }))
    expect(text).toContain('schemas/gpu-sample.v2.avsc')
    expect(text).toContain('  /** Host labels. Schema default: `{}`. */\n  labels: Record<string, string | null>\n')
    expect(text).toContain('  /** Schema default: `[]`. */\n  fans: (number | null)[]\n')
  })

  it('refuses a union with more than one non-null branch', () => {
    const v2 = JSON.parse(readFileSync(new URL('./gpu-sample.v1.avsc', import.meta.url), 'utf8')) as { fields: unknown[] }
    v2.fields.push({ name: 'either', type: ['null', 'string', 'int'], default: null })
    const catalog = new SchemaCatalog({ extraSchemas: [{ kind: 'gpu-sample', version: 2, schema: v2 }] })
    expect(() => renderSchemaTypes(catalog)).toThrow('union ["null","string","int"]: only ["null", X] unions are supported')
  })
})
