/**
 * The error banner (the API's message and code of a failed request) and the token prompt, which a 401
 * opens instead: the token is kept for the session and the page loads again with it.
 */

import { ApiError, clearToken, setToken } from './api.js';
import { element } from './dom.js';

export class ErrorPanel {
  constructor(onTokenEntered: () => void) {
    element('error-close').addEventListener('click', () => this.hide());
    element<HTMLFormElement>('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = element<HTMLInputElement>('token-input');
      setToken(input.value.trim());
      input.value = '';
      element('token-form').hidden = true;
      this.hide();
      onTokenEntered();
    });
  }

  /** Shows what failed and returns that text, or asks for the token on a 401 and returns null. */
  report(err: unknown): string | null {
    if (err instanceof ApiError && err.status === 401) {
      clearToken();
      element('token-form').hidden = false;
      element<HTMLInputElement>('token-input').focus();
      this.show('The server needs an API token (401): enter it above.');
      return null;
    }
    const message =
      err instanceof ApiError
        ? `${err.status ? `${err.status}: ` : ''}${err.message}${err.code ? ` (${err.code})` : ''}`
        : String((err as Error)?.message ?? err);
    this.show(message);
    return message;
  }

  hide(): void {
    element('error').hidden = true;
  }

  private show(message: string): void {
    element('error-text').textContent = message;
    element('error').hidden = false;
  }
}
