/**
 * Decoding options of transcription (POST /api/transcribe's query, `asr-trainer transcribe --beam`): one
 * rule for the beam width, so the route, the CLI and the addon (asr::kMaxBeamWidth) agree.
 */

/** The widest beam the addon accepts (native/core/include/asr/beam_search.h kMaxBeamWidth). */
export const MAX_BEAM_WIDTH = 256;

/** The rule in words, for error messages and the API docs. */
export const BEAM_RULE = `a beam width from 1 to ${MAX_BEAM_WIDTH} (CTC prefix beam search); leave it out for greedy decoding`;

/** The width a query or option value asks for; null when it is not a whole number in 1..MAX_BEAM_WIDTH. */
export function parseBeamWidth(value: string | number): number | null {
  const text = String(value).trim();
  if (!/^[0-9]+$/.test(text)) return null;
  const width = Number(text);
  return width >= 1 && width <= MAX_BEAM_WIDTH ? width : null;
}
