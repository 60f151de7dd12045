/** Validation shared by the observability constructs (not exported from the package). */

/** CloudWatch custom namespaces: 1 to 255 characters, not starting with `AWS/`. */
export function validateNamespace(construct: string, namespace: string | undefined): void {
  if (namespace === undefined) return;
  if (namespace.length < 1 || namespace.length > 255 || namespace.startsWith('AWS/') || !/^[A-Za-z0-9.\-_/#:]+$/.test(namespace)) {
    throw new Error(
      `${construct}: metricNamespace ${JSON.stringify(namespace)} is invalid: use 1 to 255 letters, digits ` +
        'and . - _ / # :, not starting with "AWS/"',
    );
  }
}
