/** Configuration files as operators write them: JSON, or YAML (a superset of JSON). */
import { ConfigError } from './errors.ts';

/**
 * Parses `text` as JSON, else as YAML; `undefined` for empty text. Throws ConfigError naming `source`.
 * The YAML parser is loaded only when the text is not JSON: it is heavy.
 */
export async function parseYamlOrJson(text: string, source: string): Promise<unknown> {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    try {
      const { loadYaml } = await import('@kubernetes/client-node');
      return loadYaml(text);
    } catch (err) {
      throw new ConfigError(`${source}: not valid YAML or JSON: ${(err as Error).message}`, { cause: err });
    }
  }
}
