import net from 'node:net'
import type { ISocketFactory } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestTopics, kafkaBrokers, testKafka, type TestTopics } from '../../test/support/kafka.ts'
import { createKafkaTransport, type OutgoingRecord } from './kafka-transport.ts'
import { readTopic, topicMessageCount } from './test-read-topic.ts'

/**
 * Sockets whose incoming bytes can be swallowed: with `deaf` on, requests still reach the broker
 * (which appends what it is sent) but no answer reaches kafkajs, the lost acknowledgement that
 * makes a producer retry something that already landed.
 */
function deafenableSockets(): { factory: ISocketFactory; deaf: boolean } {
  const state = {
    deaf: false,
    factory: (({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect)
      const emit = socket.emit.bind(socket)
      socket.emit = ((event: string, ...args: unknown[]) => (event === 'data' && state.deaf ? true : emit(event, ...args))) as typeof socket.emit
      return socket
    }) as ISocketFactory,
  }
  return state
}

let topics: TestTopics
beforeAll(async () => {
  topics = await createTestTopics({ partitions: 3, prefix: 'transport' })
})
afterAll(async () => topics?.cleanup())

const recordsOf = (tag: string, n: number): OutgoingRecord[] =>
  Array.from({ length: n }, (_, i) => ({ topic: topics.topics.requests, key: `w-${i % 7}`, value: Buffer.from(`${tag}-${i}`) }))

async function valuesInTopic(expected: number): Promise<string[]> {
  const kafka = testKafka()
  const n = await topicMessageCount(kafka, topics.topics.requests)
  const values = (await readTopic(kafka, topics.topics.requests, n)).map((m) => m.value.toString())
  expect(n).toBe(expected)
  return values
}

describe('Kafka transport: answers lost after the broker appended', () => {
  it('a resend of the same records lands each once, also after other sends; different records after a failure are never swallowed', async () => {
    const sockets = deafenableSockets()
    const transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'transport-test', compression: 'none', requestTimeoutMs: 800, socketFactory: sockets.factory })
    try {
      await transport.send(recordsOf('warm', 3)) // connections and metadata in place

      const first = recordsOf('a', 40)
      sockets.deaf = true
      await expect(transport.send(first)).rejects.toMatchObject({ code: 'ING_KAFKA_UNAVAILABLE', retryable: true })
      expect(await topicMessageCount(testKafka(), topics.topics.requests)).toBe(3 + 40) // it landed all the same
      sockets.deaf = false
      await transport.send(first) // the same array: the broker recognises the copy of what landed

      // A different batch after a failure: its messages must not be taken for a copy of `second`.
      await transport.send(recordsOf('w2', 1)) // the retry's producer is done with: a new one, connected
      const second = recordsOf('b', 40)
      sockets.deaf = true
      await expect(transport.send(second)).rejects.toMatchObject({ code: 'ING_KAFKA_UNAVAILABLE' })
      expect(await topicMessageCount(testKafka(), topics.topics.requests)).toBe(3 + 40 + 1 + 40)
      sockets.deaf = false
      const third = recordsOf('c', 40)
      await transport.send(third)
      // `second` posted again as a new array with the same content (a gateway client re-posting
      // its body after a 503): recognised, re-sent under the producer that sent it, dropped.
      await transport.send(recordsOf('b', 40))

      const values = await valuesInTopic(3 + 40 + 1 + 40 + 40)
      const count = (tag: string): number => values.filter((v) => v.startsWith(`${tag}-`)).length
      expect({ warm: count('warm'), a: count('a'), w2: count('w2'), b: count('b'), c: count('c') }).toEqual({ warm: 3, a: 40, w2: 1, b: 40, c: 40 })
      expect(new Set(values).size).toBe(values.length)
    } finally {
      sockets.deaf = false
      await transport.close()
    }
  })
})
