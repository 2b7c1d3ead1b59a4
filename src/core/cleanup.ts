/**
 * What a start has acquired, released in reverse order: by close(), and by a start that fails half
 * way, so both undo exactly what was done and nothing stays open (a port, a file lock, a timer).
 */
export class Cleanup {
  private readonly steps: Array<() => unknown> = []
  private running: Promise<void> | null = null

  /** Registers the undo of something just acquired. */
  add (step: () => unknown): void {
    this.steps.push(step)
  }

  /**
   * Runs every step, last added first, each once; a step that fails does not stop the others, and
   * the first failure is thrown at the end. Calls after the first wait for that run, and succeed.
   */
  async run (): Promise<void> {
    if (this.running !== null) {
      await this.running.catch(() => {})
      return
    }
    this.running = (async () => {
      let first: unknown = null
      for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
        try {
          await step()
        } catch (err) {
          first ??= err
        }
      }
      if (first !== null) throw first
    })()
    await this.running
  }

  /** Runs the steps after a failed start, then rethrows the start's own error. */
  async abort (err: unknown): Promise<never> {
    await this.run().catch(() => {})
    throw err
  }
}
