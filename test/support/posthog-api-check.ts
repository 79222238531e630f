/**
 * Finds uses of posthog-node beyond its public API, with the TypeScript checker:
 * - a member declared in posthog-node that is private, protected, or `_`-prefixed (posthog-node's
 *   mark for internals), reached by `.name` or `['name']` (brackets reach private members);
 * - a type assertion that turns a posthog-node value into a type it does not satisfy (the
 *   `as unknown as { featureFlagsPoller… }` way to reach into an object), through any number of
 *   `as unknown` / `as any` steps.
 */
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

export interface ApiViolation {
  file: string;
  line: number;
  text: string;
  reason: string;
}

const POSTHOG_DIR = `${join('node_modules', 'posthog-node')}`;

function fromPostHog(declaration: ts.Declaration): boolean {
  return declaration.getSourceFile().fileName.includes(POSTHOG_DIR);
}

function isNonPublic(declaration: ts.Declaration, name: string): boolean {
  const flags = ts.getCombinedModifierFlags(declaration);
  return (
    (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0 ||
    ts.isPrivateIdentifier((declaration as { name?: ts.Node }).name ?? declaration) ||
    name.startsWith('_')
  );
}

/** Whether a type (or a type it is made of) is declared by posthog-node. */
function isPostHogType(type: ts.Type): boolean {
  if (type.isUnionOrIntersection()) return type.types.some(isPostHogType);
  const symbol = type.aliasSymbol ?? type.getSymbol();
  return symbol?.declarations?.some(fromPostHog) ?? false;
}

function stripCasts(node: ts.Expression): ts.Expression {
  let inner = node;
  for (;;) {
    if (ts.isParenthesizedExpression(inner)) inner = inner.expression;
    else if (ts.isAsExpression(inner) || ts.isTypeAssertionExpression(inner))
      inner = inner.expression;
    else if (ts.isNonNullExpression(inner)) inner = inner.expression;
    else return inner;
  }
}

/** Checks `files` (absolute paths) with the project's compiler options. */
export function findPostHogApiViolations(files: string[], tsconfigPath: string): ApiViolation[] {
  const config = ts.readConfigFile(tsconfigPath, (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, dirname(tsconfigPath));
  const program = ts.createProgram(files, { ...parsed.options, noEmit: true });
  const checker = program.getTypeChecker();
  const violations: ApiViolation[] = [];

  for (const sourceFile of program.getSourceFiles()) {
    if (!files.includes(sourceFile.fileName)) continue;
    const report = (node: ts.Node, reason: string): void => {
      const { line } = sourceFile.getLineAndCharacterOfPosition(node.getStart());
      violations.push({
        file: relative(process.cwd(), sourceFile.fileName),
        line: line + 1,
        text: node.getText().slice(0, 120),
        reason,
      });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node)) {
        const nameNode = ts.isPropertyAccessExpression(node) ? node.name : node.argumentExpression;
        const name = ts.isPropertyAccessExpression(node)
          ? node.name.text
          : ts.isStringLiteralLike(node.argumentExpression)
            ? node.argumentExpression.text
            : undefined;
        const symbol = name === undefined ? undefined : checker.getSymbolAtLocation(nameNode);
        const declarations = symbol?.declarations?.filter(fromPostHog) ?? [];
        if (name !== undefined && declarations.some((d) => isNonPublic(d, name))) {
          report(node, `non-public posthog-node member '${name}'`);
        }
      }
      if ((ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) && !isInnerCast(node)) {
        const origin = stripCasts(node.expression);
        const from = checker.getTypeAtLocation(origin);
        const to = checker.getTypeAtLocation(node);
        const escapes = (to.flags & ts.TypeFlags.Any) !== 0;
        if (isPostHogType(from) && (escapes || !checker.isTypeAssignableTo(from, to))) {
          report(node, 'a posthog-node value cast to a type it does not satisfy');
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sourceFile);
  }
  return violations;
}

/** `x as unknown` inside `(x as unknown) as T`: only the outermost cast is judged. */
function isInnerCast(node: ts.Node): boolean {
  let parent = node.parent;
  while (parent && ts.isParenthesizedExpression(parent)) parent = parent.parent;
  return !!parent && (ts.isAsExpression(parent) || ts.isTypeAssertionExpression(parent));
}
