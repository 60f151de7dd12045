import * as path from 'node:path';

/** Stand-in bundled worker for construct tests: uploaded as is, like the prebuilt worker. */
export const WORKER_FIXTURE = path.join(__dirname, 'fixtures', 'worker', 'index.js');

/** A CloudFormation string expression (Fn::Join of strings and refs) as text, refs as <Id>, attributes as <Id.Attr>. */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const o = value as Record<string, any>;
  if (o?.['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(flatten).join(o['Fn::Join'][0]);
  if (o?.['Fn::Base64']) return flatten(o['Fn::Base64']);
  if (o?.['Fn::Sub']) return String(o['Fn::Sub']);
  if (o?.Ref) return `<${o.Ref}>`;
  if (o?.['Fn::GetAtt']) return `<${o['Fn::GetAtt'].join('.')}>`;
  return JSON.stringify(value);
}
