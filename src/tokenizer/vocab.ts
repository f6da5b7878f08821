// HyenaDNA's character vocabulary (CharacterTokenizer, characters = ['A','C','G','T','N']): seven special
// tokens first, then the bases. Ids are identical so token tensors interchange with PyTorch models.

/** Token ids, exactly as HyenaDNA assigns them. */
export const TOKEN = {
  CLS: 0,
  SEP: 1,
  BOS: 2,
  MASK: 3,
  PAD: 4,
  RESERVED: 5,
  UNK: 6,
  A: 7,
  C: 8,
  G: 9,
  T: 10,
  N: 11,
} as const;

/** Token strings indexed by id. */
export const VOCAB: readonly string[] = Object.freeze([
  '[CLS]', '[SEP]', '[BOS]', '[MASK]', '[PAD]', '[RESERVED]', '[UNK]', 'A', 'C', 'G', 'T', 'N',
]);

/** Number of real tokens (V). */
export const VOCAB_SIZE = 12;

/** V as the models store it: HyenaDNA/mamba_ssm pad the embedding to a multiple of 8 (here 16). */
export const PADDED_VOCAB_SIZE = 16;
