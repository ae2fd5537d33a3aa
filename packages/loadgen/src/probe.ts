import { connect } from 'node:net';
import { LoadgenError } from './errors.ts';

/**
 * Parses and checks a base URL, and opens (then closes) one TCP connection to it: no request is
 * sent.
 */
export async function probeBaseUrl(baseUrl: string, timeoutMs = 2000): Promise<URL> {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new LoadgenError(
      'ERR_LOADGEN_OPTION_INVALID',
      `baseUrl "${baseUrl}" is not a URL; write e.g. http://127.0.0.1:3000`,
    );
  }
  if (url.protocol !== 'http:') {
    throw new LoadgenError(
      'ERR_LOADGEN_OPTION_INVALID',
      `baseUrl must be http://…, got ${url.protocol}`,
    );
  }
  const port = Number(url.port || 80);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: url.hostname, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new LoadgenError(
          'ERR_LOADGEN_UNREACHABLE',
          `${url.origin} did not accept a connection within ${timeoutMs} ms; is the server running?`,
        ),
      );
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new LoadgenError(
          'ERR_LOADGEN_UNREACHABLE',
          `${url.origin} is unreachable (${err.code ?? err.message}); is the server running?`,
        ),
      );
    });
  });
  return url;
}
