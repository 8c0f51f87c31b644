/**
 * Helpers for lab tests that run the real pbx-ha agent on both lab nodes: the lab library's
 * (lab/pair.ts) under the names the tests have always imported from here.
 */
import { VIPS as LAB_VIPS } from '../../lab/layout';

export { DATA_VIP, PBX_HA, VOIP_VIP } from '../../lab/layout';
export {
  FAST_HEALTH,
  SOON_MS,
  agentStatus,
  assertNobodyHolds,
  pairNodes,
  prepareSsh,
  routesWithSource,
  startHolderSampler,
  startPair,
  waitSoleHolder,
  waitState,
} from '../../lab/pair';
/** The VIP addresses. */
export const VIPS = LAB_VIPS.map((v) => v.address);
