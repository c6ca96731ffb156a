/**
 * What a worker's GPU does over time, as the GPU sampler needs it: model loads and inference
 * calls (segments, appended in time order because a worker serves its queue in order), the
 * memory in use during each, and the memory left in use once it ends. The sampler reads the
 * busy time inside each sampling interval and the memory at the sampling instant, then drops
 * the segments it has passed.
 */
import { CUDA_CONTEXT_MB } from './catalog.ts'

export type SegmentKind = 'load' | 'inference'

export interface Segment {
  readonly kind: SegmentKind
  readonly start: number
  readonly end: number
  /** Memory used during the segment (MiB, context included); a load ramps up to it. */
  readonly memMb: number
  /** Memory used once the segment is over, while the worker idles (MiB). */
  readonly memAfterMb: number
  /** Xid raised when the segment ended in a GPU fault. */
  readonly xid: number | null
}

export class WorkerTimeline {
  private segments: Segment[] = []
  private head = 0
  private lastEnded: { end: number; memAfterMb: number }
  lastXid: number | null = null
  eccUncorrected = 0

  constructor(
    startMs: number,
    idleMemMb: number,
    private readonly idleUnloadMs: number,
  ) {
    this.lastEnded = { end: startMs, memAfterMb: idleMemMb }
  }

  add(segment: Segment): void {
    this.segments.push(segment)
  }

  /** Busy (inference) milliseconds in [from, to), and memory used at `to`; forgets what ended by `to`. */
  sample(from: number, to: number): { busyMs: number; memMb: number; loading: boolean } {
    let busyMs = 0
    let memMb = -1
    let loading = false
    for (let i = this.head; i < this.segments.length; i++) {
      const seg = this.segments[i] as Segment
      if (seg.start >= to) break
      if (seg.kind === 'inference') {
        const overlap = Math.min(seg.end, to) - Math.max(seg.start, from)
        if (overlap > 0) busyMs += overlap
      }
      if (seg.start <= to && seg.end > to) {
        if (seg.kind === 'load') {
          loading = true
          const progress = (to - seg.start) / (seg.end - seg.start)
          memMb = CUDA_CONTEXT_MB + (seg.memMb - CUDA_CONTEXT_MB) * progress
        } else {
          memMb = seg.memMb
        }
      }
    }
    while (this.head < this.segments.length && (this.segments[this.head] as Segment).end <= to) {
      const seg = this.segments[this.head] as Segment
      this.lastEnded = seg
      if (seg.xid !== null) {
        this.lastXid = seg.xid
        if (seg.xid === 48) this.eccUncorrected++
      }
      this.head++
    }
    if (this.head > 256 && this.head * 2 > this.segments.length) {
      this.segments = this.segments.slice(this.head)
      this.head = 0
    }
    if (memMb < 0) {
      const idleFor = to - this.lastEnded.end
      memMb = idleFor >= this.idleUnloadMs ? CUDA_CONTEXT_MB : this.lastEnded.memAfterMb
    }
    return { busyMs, memMb, loading }
  }
}
