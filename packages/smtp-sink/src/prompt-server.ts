/**
 * An SMTPServer whose connections greet without smtp-server's fixed 100 ms wait (its check for
 * clients that talk before the greeting): a client that opens a connection per message paid it
 * on every e-mail, which a local mail server does not charge. The sink's own greeting delay
 * (onConnect, `greetingDelayMs`, 100 ms by default as before) is then the whole of it.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';

class PromptConnection extends SMTPConnection {
  /** As smtp-server's own init, less the timer before connectionReady(). */
  override init(): void {
    this._setListeners(() => {
      const server = this._server as SMTPServer;
      if (server.options.maxClients && server.connections.size > server.options.maxClients) {
        return this.send(
          421,
          `${this.name} Too many connected clients, try again in a moment`,
          false,
        );
      }
      this.connectionReady();
    });
  }
}

export class PromptSMTPServer extends SMTPServer {
  /** As smtp-server's own connect, with the connection above. */
  override connect(
    socket: net.Socket | tls.TLSSocket,
    socketOptions?: SMTPConnectionOptions | null,
  ): void {
    const connection = new PromptConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
  }
}
