import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { Response } from 'openai/resources/responses/responses';
import type { ModelResponse, VendorAnswer } from '../types.js';
import { chatAnswer } from './chat.js';
import { toMessage, type AnswerParts } from './parts.js';
import { responseAnswer } from './responses.js';

/**
 * The answer an OpenAI API returned, as the Message the engine reads: the same mapping live and
 * in replay (which must not load the SDK for it, hence its own module). Throws CutToolCall for
 * tool call arguments cut short without the answer saying so.
 */
export function messageOfVendor(vendor: Pick<VendorAnswer, 'api' | 'response'>): ModelResponse {
  const parts: AnswerParts = vendor.api === 'chat' ? chatAnswer(vendor.response as unknown as ChatCompletion) : responseAnswer(vendor.response as unknown as Response);
  return toMessage(parts);
}
