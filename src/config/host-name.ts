// Host names as pbx-ha.conf accepts them (node sections, [cluster], the PostgreSQL host).
//
//   isHostName(text: string): boolean

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
export function isHostName(text: string): boolean {
  return (
    text.length <= 253 &&
    text.split('.').every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))
  );
}
