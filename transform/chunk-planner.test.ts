import { describe, expect, it } from 'vitest'
import { PartitionChunker, decodePlan, encodePlan, type OpenChunk } from './chunk-planner.ts'

type Cut = { start: number; end: number; offsets: number[] }

/** Feeds offsets through a chunker the way the consumer loop does and returns the chunks cut. */
function cutAll(chunker: PartitionChunker<number[]>, offsets: number[], earlyCloseAfter?: number): Cut[] {
  const cuts: Cut[] = []
  const take = (c: OpenChunk<number[]> | null) => { if (c) cuts.push({ start: c.start, end: c.end, offsets: c.content }) }
  offsets.forEach((o, i) => {
    take(chunker.closeBefore(o))
    if (chunker.accept(o, 0) === 'accepted') chunker.open!.content.push(o)
    take(chunker.full())
    if (earlyCloseAfter !== undefined && i === earlyCloseAfter) take(chunker.closeEarly(10, 0))
  })
  return cuts
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i)

describe('PartitionChunker', () => {
  it('cuts size-closed chunks whose ends depend on the start offset alone', () => {
    const chunker = new PartitionChunker<number[]>(4, () => [], 10, null)
    const cuts = cutAll(chunker, range(10, 21))
    expect(cuts.map((c) => [c.start, c.end])).toEqual([[10, 13], [14, 17], [18, 21]])
    expect(cuts.flatMap((c) => c.offsets)).toEqual(range(10, 21))
  })

  it('rebuilds the same chunks when a replay starts at the committed offset', () => {
    const first = cutAll(new PartitionChunker<number[]>(4, () => [], 0, null), range(0, 11))
    // crash after committing 8 (end of the second chunk + 1): the replay resumes there
    const replay = cutAll(new PartitionChunker<number[]>(4, () => [], 8, null), range(8, 11))
    expect(replay).toEqual(first.slice(2))
  })

  it('skips offsets below the committed offset and repeated offsets', () => {
    const chunker = new PartitionChunker<number[]>(3, () => [], 5, null)
    const cuts = cutAll(chunker, [3, 4, 5, 6, 6, 7])
    expect(cuts).toEqual([{ start: 5, end: 7, offsets: [5, 6, 7] }])
  })

  it('closes early at the last offset, and a replay with the recorded plan ends at the same offset', () => {
    const cuts = cutAll(new PartitionChunker<number[]>(100, () => [], 0, null), range(0, 6), 2)
    expect(cuts[0]).toEqual({ start: 0, end: 2, offsets: [0, 1, 2] })
    const plan = { start: 0, end: 2 }
    const replay = new PartitionChunker<number[]>(100, () => [], 0, decodePlan(encodePlan(plan)))
    // the replay sees more messages than the original chunk held: the plan still ends it at 2
    const replayCuts = cutAll(replay, range(0, 6))
    expect(replayCuts[0]).toEqual({ start: 0, end: 2, offsets: [0, 1, 2] })
    expect(replay.open?.start).toBe(3)
  })

  it('does not close a replayed (planned) chunk early', () => {
    const replay = new PartitionChunker<number[]>(100, () => [], 0, { start: 0, end: 5 })
    replay.accept(0, 0)
    expect(replay.closeEarly(1_000, 0)).toBeNull()
  })

  it('ignores a plan recorded for another start offset', () => {
    const chunker = new PartitionChunker<number[]>(4, () => [], 8, { start: 0, end: 2 })
    expect(cutAll(chunker, range(8, 11)).map((c) => [c.start, c.end])).toEqual([[8, 11]])
  })

  it('closes a chunk at its fixed end when offsets have a gap past it', () => {
    const chunker = new PartitionChunker<number[]>(4, () => [], 0, null)
    const cuts = cutAll(chunker, [0, 1, 2, 9, 10])
    expect(cuts[0]).toEqual({ start: 0, end: 3, offsets: [0, 1, 2] })
    expect(chunker.open).toMatchObject({ start: 8, end: 11, lastOffset: 10 })
  })

  it('starts at the first offset seen when the group has no committed offset', () => {
    const chunker = new PartitionChunker<number[]>(2, () => [], null, null)
    expect(cutAll(chunker, [42, 43]).map((c) => [c.start, c.end])).toEqual([[42, 43]])
  })
})

describe('plan metadata', () => {
  it('round-trips and rejects foreign metadata', () => {
    expect(decodePlan(encodePlan({ start: 7, end: 99 }))).toEqual({ start: 7, end: 99 })
    expect(decodePlan(null)).toBeNull()
    expect(decodePlan('')).toBeNull()
    expect(decodePlan('some other tool')).toBeNull()
    expect(decodePlan('dw1:plan:9-3')).toBeNull()
    expect(decodePlan('dw1:plan:x-3')).toBeNull()
  })
})
