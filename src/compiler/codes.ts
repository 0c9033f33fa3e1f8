/**
 * Every diagnostic code the compiler reports, with a one-line summary (used by SARIF's rule list).
 * grammar/diagnostics.md documents each with an example; a test keeps the two in step.
 * E00xx syntax, E01xx keys and values, E02xx references and the graph, E03xx files and
 * cross-stage checks, W… warnings.
 */
export const DIAGNOSTIC_CODES: Readonly<Record<string, string>> = {
  E0001: 'Lexical error: a character or string the language does not have.',
  E0002: 'Syntax error: the parser expected something else here.',
  E0003: 'The YAML document does not have the shape of a pipeline.',
  E0101: 'Unknown block kind.',
  E0102: 'Unknown key for this stage kind (or nested block).',
  E0103: 'Value of the wrong type.',
  E0104: 'Value out of range.',
  E0105: 'Value not among the allowed choices.',
  E0106: 'Required key missing.',
  E0107: 'Key set twice in one stage.',
  E0108: 'template = custom needs both prompt and response.',
  E0109: 'More than one pipeline header.',
  E0110: 'Malformed --set override.',
  E0111: '--set names a stage that does not exist.',
  E0201: 'Reference to a stage that does not exist.',
  E0202: 'Reference to a stage of the wrong kind.',
  E0203: 'Duplicate stage name.',
  E0204: 'Cycle in the stage graph.',
  E0205: 'A reference written as a quoted string.',
  E0300: 'The pipeline file cannot be read.',
  E0301: 'A file or directory the pipeline names does not exist.',
  E0302: 'A directory was expected, but the path is a file.',
  E0303: 'A file was expected, but the path is a directory.',
  E0304: 'The model directory has no config.json.',
  E0305: "The model's config.json is not a valid JSON object.",
  E0306: "Tokenizer max_length exceeds the model's context (max_position_embeddings).",
  E0307: "A LoRA target module the model's architecture does not have.",
  E0308: 'Tokenizer sets both vocab and train.',
  E0309: 'Tokenizer sets neither vocab nor train.',
  W0101: 'No pipeline header: name and seed default.',
  W0201: 'A stage no other stage uses.',
  W0301: 'An absolute path makes the pipeline non-portable.',
  W0302: 'Model architecture outside the Llama family: target modules not checked.',
  W0303: 'quantization = nf4 (QLoRA) is honoured only by ftc compile --target accelerate.',
};
