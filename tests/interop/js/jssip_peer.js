// A JsSIP user agent (the SIP stack browser agents will use) driven over stdin/stdout by the interop tests.
//
// Usage: node jssip_peer.js '<json config>'
//   config: {"ws": "ws://127.0.0.1:PORT", "uri": "sip:alice@127.0.0.1", "password": "...",
//            "reject": 486, "expires": 300}
// Commands (one JSON object per stdin line): {"cmd": "register"}, {"cmd": "unregister"},
//   {"cmd": "message", "target": "sip:...", "body": "..."}, {"cmd": "stop"}.
// Events (one JSON object per stdout line): connected, disconnected, registered, unregistered,
//   registrationFailed, incoming (an INVITE; rejected with config.reject after its 180; 0 rings on), failed,
//   newMessage, messageSent, messageFailed.
//
// Node 20 has no WebSocket, so JsSIP gets the `ws` package's client (it offers the "sip" subprotocol,
// RFC 7118 §4.1). JsSIP also refuses INVITEs unless `window.RTCPeerConnection` exists; the stub below is
// never constructed: an incoming call is rejected before any media is set up (no WebRTC in Node).
'use strict';

globalThis.WebSocket = require('ws');
globalThis.window = globalThis;
globalThis.RTCPeerConnection = class RTCPeerConnection {
  constructor() {
    throw new Error('no WebRTC media in the Node interop peer');
  }
};

const readline = require('readline');
const JsSIP = require('jssip');

const config = JSON.parse(process.argv[2]);

function emit(event, data = {}) {
  process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
}

const socket = new JsSIP.WebSocketInterface(config.ws);
const ua = new JsSIP.UA({
  sockets: [socket],
  uri: config.uri,
  password: config.password,
  register: false,
  register_expires: config.expires || 300,
  session_timers: false,
});

ua.on('connected', () => emit('connected'));
ua.on('disconnected', (e) => emit('disconnected', { error: Boolean(e.error), code: e.code }));
ua.on('registered', (e) =>
  emit('registered', { status: e.response.status_code, contact: ua.contact.toString() }),
);
ua.on('unregistered', () => emit('unregistered'));
ua.on('registrationFailed', (e) =>
  emit('registrationFailed', { cause: e.cause, status: e.response ? e.response.status_code : null }),
);
ua.on('newRTCSession', ({ originator, session, request }) => {
  if (originator !== 'remote') return;
  emit('incoming', {
    from: request.from.uri.toString(),
    ruri: request.ruri.toString(),
    via: request.getHeader('Via'),
    contact: request.getHeader('Contact'),
  });
  session.on('failed', (e) => emit('failed', { cause: e.cause }));
  // reject after JsSIP has sent its 180 Ringing, so both the 180 and the final response cross the flow;
  // reject 0: keep ringing (until the test kills the process)
  if (config.reject !== 0) {
    setTimeout(() => session.terminate({ status_code: config.reject || 486 }), 200);
  }
});
ua.on('newMessage', ({ originator, request }) => {
  if (originator !== 'remote') return;
  emit('newMessage', { from: request.from.uri.toString(), body: request.body });
});

const commands = {
  register: () => ua.register(),
  unregister: () => ua.unregister(),
  message: (c) =>
    ua.sendMessage(c.target, c.body, {
      eventHandlers: {
        succeeded: (e) => emit('messageSent', { status: e.response.status_code }),
        failed: (e) => emit('messageFailed', { cause: e.cause }),
      },
    }),
  stop: () => {
    ua.stop();
    setTimeout(() => process.exit(0), 500);
  },
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line);
  const run = commands[command.cmd];
  if (run === undefined) {
    emit('error', { message: `unknown command ${command.cmd}` });
    return;
  }
  run(command);
});

ua.start();
