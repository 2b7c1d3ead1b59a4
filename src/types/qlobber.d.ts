// qlobber ships no types: the part of its API the registry uses.
declare module 'qlobber' {
  export interface QlobberOptions {
    separator?: string
    wildcard_one?: string
    wildcard_some?: string
    match_empty_levels?: boolean
  }
  export class QlobberDedup<V = unknown> {
    constructor (options?: QlobberOptions)
    add (topic: string, value: V): this
    remove (topic: string, value?: V): this
    match (topic: string): Set<V>
  }
}
