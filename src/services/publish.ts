/** A message published through the API (mqtt/publish, delayed publish, ...): the broker's request with its publisher always named. */
import type { PublishRequest } from '../broker/types.js'

export type PublishMessage = Required<PublishRequest>
