/**
 * Text a customer or contact chose, made safe for the Temporal UI, which renders workflow and
 * activity summaries and details as Markdown. Escaping these characters keeps their text as
 * text: no links or images (which would load from the customer's server in an operator's
 * browser), no inline HTML, no code spans or emphasis hiding part of the message.
 */
export function markdownText(text: string): string {
  return text.replace(/[\\`*_~[\]<>]/g, '\\$&');
}
