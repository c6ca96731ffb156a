/**
 * CPU profile of a section of the bench process (node:inspector, so only the measured phase is
 * sampled, not the pre-production), saved as a .cpuprofile and summarized as the share of
 * samples per pipeline stage, attributed by the source file of the sampled frame.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { Session } from 'node:inspector/promises'

type ProfileNode = { id: number; callFrame: { url: string; functionName: string }; children?: number[] }
type Profile = { nodes: ProfileNode[]; samples: number[] }

const STAGES: [string, RegExp][] = [
  ['decode (avro)', /schemas\/codec|avsc|schemas\//],
  ['aggregation + validation', /window-aggregator|chunk-content|validate\.ts/],
  ['serialization (rowbinary/json)', /row-sink-rowbinary|JSONCompact|@clickhouse\/client-common|stringify/],
  ['insert (chdb engine + client)', /chdb|row-sink|@clickhouse\/client/],
  ['kafka fetch (kafkajs)', /kafkajs/],
  ['transformer loop/flush', /transform\//],
  ['gc', /^\(garbage collector\)$/],
  ['idle', /^\((idle|program)\)$/],
]

function stageOf(node: ProfileNode): string {
  const key = node.callFrame.url || `(${node.callFrame.functionName.replace(/[()]/g, '')})`
  for (const [stage, re] of STAGES) if (re.test(key)) return stage
  return node.callFrame.url ? 'other js' : 'native/other'
}

export async function startProfile(): Promise<(savePath?: string) => Promise<Record<string, number>>> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 1000 })
  await session.post('Profiler.start')
  return async (savePath) => {
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile }
    session.disconnect()
    if (savePath) saveProfile(savePath, profile)
    return summarize(profile)
  }
}

export function saveProfile(path: string, profile: unknown): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, JSON.stringify(profile))
}

/**
 * Share of non-idle samples per stage. A sample is charged to the innermost frame whose file
 * belongs to a known stage, walking up from the sampled leaf (so a Buffer write called from the
 * RowBinary encoder counts as serialization, not as "native").
 */
export function summarize(profile: Profile): Record<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const counts = new Map<string, number>()
  let total = 0
  for (const id of profile.samples) {
    let stage = 'native/other'
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const s = stageOf(byId.get(cur)!)
      if (s !== 'native/other' && s !== 'other js') {
        stage = s
        break
      }
      if (cur === id) stage = s
    }
    if (stage === 'idle') continue
    total++
    counts.set(stage, (counts.get(stage) ?? 0) + 1)
  }
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round((v / total) * 1000) / 10]))
}
