// Fakes of the ports (src/ports) and of the executor's command runner, for unit tests.

export { FakeClock, flushPromises } from './clock';
export { FakeArp, FakeLan, FakeNet, FakeProber } from './lan';
export { RecordingRunner, type CommandBehaviour, type CommandCall } from './runner';
export { RecordingLogger } from './logger';
export { FakePeerLink, type FakePeerEnd } from './peer-link';
