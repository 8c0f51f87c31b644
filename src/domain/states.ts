// Node states, as in BEHAVIOR.md ("Roles and states"). A string-literal union so that
// every `switch` over it is checked for exhaustiveness by the compiler.

export type NodeState = 'init' | 'active' | 'standby' | 'fault' | 'maintenance';

export const NODE_STATES: readonly NodeState[] = ['init', 'active', 'standby', 'fault', 'maintenance'];

/** Compile-time exhaustiveness guard for `switch` statements over unions. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

/** Whether a node in this state holds (or must hold) the virtual IPs. */
export function holdsVips(state: NodeState): boolean {
  switch (state) {
    case 'active':
      return true;
    case 'init':
    case 'standby':
    case 'fault':
    case 'maintenance':
      return false;
    default:
      return assertNever(state);
  }
}
