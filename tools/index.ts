/** Developer and auditor tools built on the programs: the import surface of tools/ for cli/ and tests. */

export {
  type AuditCase,
  type AuditConfiguration,
  type AuditResult,
  auditOne,
  auditSvg,
  runAudit
} from './audit/report.ts'
export { type AppIo, type ListenOptions, runListen, runSend } from './chat/apps.ts'
export {
  ContactSchema,
  contactCard,
  type LoadedProfile,
  loadContact,
  loadProfile,
  newProfile,
  type Profile,
  ProfileSchema
} from './chat/profile.ts'
export { type RoomDemoOptions, runRoomDemo } from './chat/room-demo.ts'
export { ROOM_DEMO_EVENTS, roomDemoText } from './chat/room-demo-text.ts'
export { type RotateOptions, rotateCapability } from './chat/rotate.ts'
export { type RoomTimelineEvent, type SyncAll, syncAll, syncToDevice, type ToDeviceEvent } from './chat/sync.ts'
export { DEPLOY_RELAYS, type DeployRelays, finishDeployNetwork, initDeployRelays } from './deploy-init.ts'
export { DevnetError, type DevnetOptions, runDevnet } from './devnet/devnet.ts'
export { StandinHomeserver, type StandinOptions, type StandinUser } from './devnet/standin-homeserver.ts'
export { statusOutput } from './devnet/status.ts'
export {
  type LaunchedAuthority,
  type LaunchedNetwork,
  type LaunchedRelay,
  type LaunchOptions,
  launchNetwork,
  type NetworkMode,
  type RunMode
} from './network/launch.ts'
export {
  DEMO_LOAD,
  DEVNET_MIXING,
  ENTRY,
  EXIT,
  NO_MIXING,
  RELAY_LAYOUT,
  type RelaySpec,
  ROUTE,
  TEST_MIXING,
  TESTNET_MIXING
} from './network/layout.ts'
export { freePort } from './network/ports.ts'
export { buildNetworkDocument, loadSignerKey, writeNetworkFile } from './network-file.ts'
