/** Why a value is not a definitions payload, or undefined when it is one. */
export function definitionsShapeProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'must be an object like { flags: [...] }';
  }
  const { flags, cohorts, group_type_mapping } = value as Record<string, unknown>;
  if (!Array.isArray(flags)) return '`flags` must be an array';
  const badIndex = flags.findIndex(
    (flag) => flag === null || typeof flag !== 'object' || typeof flag.key !== 'string',
  );
  if (badIndex >= 0) return `flags[${badIndex}] must be an object with a string \`key\``;
  if (cohorts !== undefined && !isPlainObject(cohorts)) return '`cohorts` must be an object';
  if (group_type_mapping !== undefined && !isPlainObject(group_type_mapping)) {
    return '`group_type_mapping` must be an object';
  }
  return undefined;
}

function isPlainObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
