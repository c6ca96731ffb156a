/**
 * Min-heap of pending events by (event time, insertion number): events with equal times come
 * out in the order they were pushed, so the output order is fully deterministic.
 */
export class EventHeap<T> {
  private times: number[] = []
  private seqs: number[] = []
  private items: T[] = []
  private nextSeq = 0

  get size(): number {
    return this.items.length
  }

  /** Event time of the earliest entry, or +Infinity when empty. */
  peekTime(): number {
    return this.items.length === 0 ? Number.POSITIVE_INFINITY : (this.times[0] as number)
  }

  push(time: number, item: T): void {
    const seq = this.nextSeq++
    let i = this.items.length
    this.times.push(time)
    this.seqs.push(seq)
    this.items.push(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(time, seq, parent)) break
      this.move(parent, i)
      i = parent
    }
    this.set(i, time, seq, item)
  }

  pop(): T | undefined {
    const n = this.items.length
    if (n === 0) return undefined
    const top = this.items[0] as T
    const lastTime = this.times.pop() as number
    const lastSeq = this.seqs.pop() as number
    const lastItem = this.items.pop() as T
    if (n === 1) return top
    const size = n - 1
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= size) break
      const right = left + 1
      const child = right < size && this.lessAt(right, left) ? right : left
      if (!this.lessThan(child, lastTime, lastSeq)) break
      this.move(child, i)
      i = child
    }
    this.set(i, lastTime, lastSeq, lastItem)
    return top
  }

  private less(time: number, seq: number, j: number): boolean {
    const tj = this.times[j] as number
    return time < tj || (time === tj && seq < (this.seqs[j] as number))
  }

  private lessThan(j: number, time: number, seq: number): boolean {
    const tj = this.times[j] as number
    return tj < time || (tj === time && (this.seqs[j] as number) < seq)
  }

  private lessAt(a: number, b: number): boolean {
    return this.lessThan(a, this.times[b] as number, this.seqs[b] as number)
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from] as number
    this.seqs[to] = this.seqs[from] as number
    this.items[to] = this.items[from] as T
  }

  private set(i: number, time: number, seq: number, item: T): void {
    this.times[i] = time
    this.seqs[i] = seq
    this.items[i] = item
  }
}
