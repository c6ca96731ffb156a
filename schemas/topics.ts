/** Every Kafka topic diffwatch reads or writes. Names are part of the contract (DESIGN.md). */
export const TOPICS = {
  requests: 'diffwatch.requests.v1',
  gpuSamples: 'diffwatch.gpu-samples.v1',
  deadLetter: 'diffwatch.dlq',
} as const

export type TopicSet = { readonly requests: string; readonly gpuSamples: string; readonly deadLetter: string }

/** Topics with a prefix, so tests and benchmarks get their own isolated set on a shared broker. */
export function topicSet(prefix = ''): TopicSet {
  return {
    requests: prefix + TOPICS.requests,
    gpuSamples: prefix + TOPICS.gpuSamples,
    deadLetter: prefix + TOPICS.deadLetter,
  }
}

/** Headers of a dead-letter record (values are UTF-8 strings). */
export const DLQ_HEADERS = {
  reason: 'dw-reason',
  code: 'dw-error-code',
  sourceTopic: 'dw-source-topic',
  sourcePartition: 'dw-source-partition',
  sourceOffset: 'dw-source-offset',
  /** Set when the original value was longer than a dead letter may be: its length in bytes. */
  truncatedFrom: 'dw-truncated-from',
} as const
