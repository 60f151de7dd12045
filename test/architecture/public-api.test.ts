/**
 * The package's entry point exports its public surface by name: no `export *` (which leaks every helper of a
 * module), nothing from lib/common or a private/ folder, and every type a public declaration names is itself
 * exported (else users and jsii meet a type they cannot import).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');
const INDEX = path.join(ROOT, 'lib', 'index.ts');

const program = ts.createProgram([INDEX], { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, noEmit: true });
const checker = program.getTypeChecker();
const exported = checker
  .getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(INDEX)!)!)
  .map((s) => ({ name: s.name, target: s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s }));
const exportedTargets = new Set(exported.map((e) => e.target));
const inLib = (file: string) => path.relative(ROOT, file).startsWith(`lib${path.sep}`);

function isPrivate(node: ts.Node): boolean {
  const flags = ts.getCombinedModifierFlags(node as ts.Declaration);
  return (
    (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0 ||
    (node as ts.NamedDeclaration).name?.kind === ts.SyntaxKind.PrivateIdentifier
  );
}

/** Library types named by the public parts of `decl` that the entry point does not export. */
function unexportedTypesIn(decl: ts.Declaration): string[] {
  const missing: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isClassElement(node) && isPrivate(node)) return;
    // Bodies and initializers are implementation, not API.
    if (ts.isBlock(node) || (ts.isPropertyDeclaration(node) && node.type === undefined)) return;
    if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
      const at = ts.isTypeReferenceNode(node) ? node.typeName : node.expression;
      let symbol = checker.getSymbolAtLocation(at);
      if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
      const file = symbol?.declarations?.[0]?.getSourceFile().fileName;
      if (symbol && file && inLib(file) && !exportedTargets.has(symbol) && !(symbol.flags & ts.SymbolFlags.TypeParameter)) {
        missing.push(`${symbol.name} (${path.relative(ROOT, file)})`);
      }
    }
    ts.forEachChild(node, visit);
  };
  if (ts.isVariableDeclaration(decl)) {
    if (decl.type) visit(decl.type);
  } else if (ts.isFunctionDeclaration(decl)) {
    decl.parameters.forEach(visit);
    if (decl.type) visit(decl.type);
  } else {
    visit(decl);
  }
  return missing;
}

test('lib/index.ts re-exports by name only', () => {
  const code = fs.readFileSync(INDEX, 'utf8');
  expect(code.match(/export \*.*/g) ?? []).toEqual([]);
  expect(exported.length).toBeGreaterThan(40);
});

test('nothing from lib/common or a private/ folder is public', () => {
  const leaked = exported
    .filter((e) => {
      const file = path.relative(ROOT, e.target.declarations![0].getSourceFile().fileName);
      return file.startsWith(path.join('lib', 'common')) || file.split(path.sep).includes('private');
    })
    .map((e) => e.name);
  expect(leaked).toEqual([]);
});

test('every library type a public declaration names is exported too', () => {
  const missing = exported.flatMap((e) => (e.target.declarations ?? []).flatMap((d) => unexportedTypesIn(d).map((t) => `${e.name} names ${t}`)));
  expect([...new Set(missing)].sort()).toEqual([]);
});
