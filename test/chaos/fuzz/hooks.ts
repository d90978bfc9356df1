/** Module resolution hook: `fast-check` imported by anything but scaled.ts resolves to scaled.ts. */
const SCALED = new URL('./scaled.ts', import.meta.url).href;

type Next = (specifier: string, context: { parentURL?: string }) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: { parentURL?: string }, next: Next) {
  if (specifier === 'fast-check' && context.parentURL !== SCALED) return { url: SCALED, shortCircuit: true };
  return next(specifier, context);
}
