// The public API of the configuration layer; import from here rather than from the inner modules.

export type * from './types';
export { loadConfigFile, parseConfigText, type ConfigResult } from './load';
export { formatProblem } from './format';
export { printable } from './printable';
export { selectNode, isConfigProblem, type NodeSelection } from './select-node';
export { checkHost, type IpAddrInterface, type IpAddrInfo } from './host-checks';
export { parseDurationMs, formatDurationMs } from './duration';
export {
  parseIpv4,
  formatIpv4,
  isIpv4,
  parseCidr,
  networkAddress,
  broadcastAddress,
  inSubnet,
  type Cidr,
} from './ipv4';
export { splitCommandLine, type SplitResult } from './command-line';
export { CONFIG_DEFAULTS, CONFIG_LIMITS, DEFAULT_CONFIG_FILE } from './defaults';
