/**
 * `--include` patterns, read like `huggingface-cli download --include` (fnmatch): `*` matches any characters,
 * '/' too, `?` one character; a pattern ending in '/' matches everything under that folder.
 */
export function includeMatcher(patterns: readonly string[] | undefined): (path: string) => boolean {
  if (!patterns || patterns.length === 0) return () => true;
  const res = patterns.map((p) => {
    const glob = p.endsWith('/') ? `${p}*` : p;
    const body = glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    return new RegExp(`^${body}$`);
  });
  return (path) => res.some((re) => re.test(path));
}
