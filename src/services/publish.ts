/** A message published through the API (mqtt/publish, delayed publish, ...). */
export interface PublishMessage {
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
  clientId: string
}
