/** A FIFO mutex: the consumer loop and the idle-flush timer never flush the same chunk twice. */
export class AsyncLock {
  private tail: Promise<void> = Promise.resolve()
  private held = false

  get locked(): boolean {
    return this.held
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      this.held = true
      try {
        return await fn()
      } finally {
        this.held = false
      }
    })
    this.tail = result.then(() => undefined, () => undefined)
    return result
  }
}
