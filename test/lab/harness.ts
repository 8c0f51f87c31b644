/**
 * The network lab for lab tests: the lab library (lab/) under the names the tests have always
 * imported from here. See lab/lab.ts for how to use it.
 */
export { LAB_SCRIPT, PBX_NODES, REPO_ROOT, type LabNode, type PbxNode } from '../../lab/layout';
export { LabCommandError, run, type RunOptions, type RunResult } from '../../lab/run';
export { parsePing, type PingerResult } from '../../lab/pinger';
export {
  Lab,
  labAvailability,
  requireLab,
  withLab,
  type Address,
  type Capture,
  type LabOptions,
  type Link,
  type Pinger,
  type Route,
  type StartOptions,
  type UpEnv,
} from '../../lab/lab';
