/**
 * Writes schemas/generated/types.ts from the newest schema of each kind.
 * Run after adding a schema version: npx tsx scripts/gen-schema-types.ts
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { GENERATED_TYPES_PATH, renderSchemaTypes } from '../schemas/type-renderer.ts'

const target = fileURLToPath(new URL(`../${GENERATED_TYPES_PATH}`, import.meta.url))
writeFileSync(target, renderSchemaTypes())
console.log(`wrote ${GENERATED_TYPES_PATH}`)
