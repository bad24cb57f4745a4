import { Type } from '@sinclair/typebox';

/**
 * Model and dataset names: lowercase letters, digits, '_', '.' and '-', starting with a letter or digit.
 * They become file names (`{model}-{dataset}-epoch-N.pt`), so no path separator, and lowercase so two
 * names never map to one file on a case-insensitive file system.
 */
export const NAME_PATTERN = '^[a-z0-9][a-z0-9_.-]*$';
/** Long enough for any real name, short enough that every derived file name stays under 255 bytes. */
export const MAX_NAME_LENGTH = 100;
/** The rule in words, for error messages. */
export const NAME_RULE = `lowercase letters, digits, '_', '.' and '-', starting with a letter or digit, at most ${MAX_NAME_LENGTH} characters`;
/**
 * Linux NAME_MAX, in bytes: the longest checkpoint file name there can be. The schema's maxLength counts
 * characters, a looser bound; the store counts the bytes.
 */
export const MAX_CHECKPOINT_NAME_BYTES = 255;

const namePattern = new RegExp(NAME_PATTERN);

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && namePattern.test(name);
}

/** Why `name` breaks the rule, said so that the fix is plain; null when it keeps it. */
export function nameProblem(name: string): string | null {
  if (isValidName(name)) return null;
  if (name.length > MAX_NAME_LENGTH) {
    return `name is ${name.length} characters long; it becomes part of checkpoint file names, so at most ${MAX_NAME_LENGTH}`;
  }
  if (namePattern.test(name.toLowerCase())) {
    return `name must be lowercase (it becomes part of checkpoint file names): use '${name.toLowerCase()}'`;
  }
  return "name must start with a letter or digit and hold only lowercase letters, digits, '_', '.' and '-'";
}

/** A model or dataset name (a key of `models` or `datasets` in config.yaml). */
export const NameSchema = (description?: string) =>
  Type.String({
    minLength: 1,
    maxLength: MAX_NAME_LENGTH,
    pattern: NAME_PATTERN,
    ...(description ? { description } : {}),
  });

/** A checkpoint file name as GET /api/checkpoints lists it; the store refuses anything that is not a plain file name. */
export const CheckpointNameSchema = (description?: string) =>
  Type.String({ minLength: 1, maxLength: MAX_CHECKPOINT_NAME_BYTES, ...(description ? { description } : {}) });
