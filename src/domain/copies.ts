// The three copies replication makes (docs/replication.md, "The copies").

export type CopyKind = 'files' | 'db' | 'astdb';
export const COPY_KINDS: readonly CopyKind[] = ['files', 'db', 'astdb'];
