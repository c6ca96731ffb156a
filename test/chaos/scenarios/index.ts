/**
 * The registry of `npm run chaos`: every scenario, in the order the runner runs them. Adding one
 * is one import and one entry (test/chaos/scenario.ts is the contract).
 */
import type { ChaosScenario } from '../scenario.ts'
import { apiAttack } from './api-attack.ts'
import { badInputGateway } from './bad-input-gateway.ts'
import { badInputImport } from './bad-input-import.ts'
import { badInputKafka } from './bad-input-kafka.ts'
import { ingestGatewayKafkaDown } from './ingest-gateway-kafka-down.ts'
import { ingestSdkKafkaDown } from './ingest-sdk-kafka-down.ts'
import { kafkaBrokerRestart } from './kafka-broker-restart.ts'
import { clickhouseDiskFull } from './clickhouse-disk-full.ts'
import { clickhouseOutage } from './clickhouse-outage.ts'
import { transformerGroup } from './transformer-group.ts'
import { transformerSigkill } from './transformer-sigkill.ts'
import { soak } from './soak.ts'

export const SCENARIOS: ChaosScenario[] = [
  transformerSigkill,
  transformerGroup,
  clickhouseOutage,
  clickhouseDiskFull,
  kafkaBrokerRestart,
  ingestSdkKafkaDown,
  ingestGatewayKafkaDown,
  badInputKafka,
  badInputGateway,
  badInputImport,
  apiAttack,
  soak,
]
