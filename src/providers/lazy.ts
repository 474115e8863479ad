import type { Provider } from './types.js';

/**
 * A vendor's provider whose module, and the vendor's SDK behind it (hundreds of files), loads on
 * first use: a run that replays its cassette, or calls only the other vendor, never loads it.
 * `countsTokens` says whether the real provider can count a request's tokens, so the engine sees
 * the same optional method it would on the real one.
 */
export function lazyProvider(name: 'anthropic' | 'openai', load: () => Promise<Provider>, countsTokens: boolean): Provider {
  let real: Promise<Provider> | undefined;
  const get = () => (real ??= load());
  const provider: Provider = {
    name,
    call: async (request, options) => (await get()).call(request, options),
    preflight: async (models, signal, stages) => (await get()).preflight(models, signal, stages),
  };
  if (countsTokens) provider.countTokens = async (request, signal) => (await get()).countTokens?.(request, signal);
  return provider;
}
