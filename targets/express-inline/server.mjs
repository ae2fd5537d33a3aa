// The Node/Express API the original experiment compared Flask with: the same sign-up endpoint
// in express with mongoose, sending the confirmation e-mail inline (the reply waits for it),
// one SMTP connection per message (nodemailer's default transport). It meets mailbench's target
// contract; configured by the environment like flask-seed (see README.md).
import crypto from 'node:crypto';
import express from 'express';
import mongoose from 'mongoose';
import nodemailer from 'nodemailer';

function setting(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`express-inline: ${name} is required`);
    process.exit(2);
  }
  return value;
}

const port = Number(setting('MB_PORT', '3000'));
const delayMs = Number(setting('MB_EMAIL_DELAY_MS', '0'));
const transport = nodemailer.createTransport({
  host: setting('MB_SMTP_HOST', '127.0.0.1'),
  port: Number(setting('MB_SMTP_PORT', '2525')),
  secure: false,
  ignoreTLS: true,
});

const User = mongoose.model(
  'User',
  new mongoose.Schema({
    username: { type: String, required: true, unique: true, maxlength: 32 },
    email: { type: String, required: true, unique: true, maxlength: 254 },
    password: { type: String, required: true },
    confirmToken: { type: String, required: true },
  }),
  'users',
);

async function sendConfirmation(user) {
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  await transport.sendMail({
    from: 'mailbench <noreply@example.test>',
    to: user.email,
    subject: 'Confirm your account',
    messageId: `<${user.id}.${crypto.randomBytes(4).toString('hex')}@express-inline.example.test>`,
    headers: { 'X-Registration-Id': user.id },
    text: `Welcome! Confirm your account: http://express-inline.example.test/api/users/confirm?token=${user.confirmToken}\n`,
  });
}

const app = express();
app.use(express.json({ limit: '16kb' }));

app.post('/api/users', async (req, res, next) => {
  try {
    if (!req.is('application/json'))
      return res.status(415).json({ error: 'expected application/json' });
    const { username, email, password } = req.body ?? {};
    if (![username, email, password].every((v) => typeof v === 'string' && v.length > 0))
      return res.status(400).json({ error: 'missing or empty fields' });
    if (username.length > 32 || !email.includes('@'))
      return res.status(400).json({ error: 'invalid username or email' });
    let user;
    try {
      user = await User.create({
        username,
        email,
        password,
        confirmToken: crypto.randomBytes(18).toString('base64url'),
      });
    } catch (err) {
      if (err?.code === 11000)
        return res.status(409).json({ error: 'username or email already registered' });
      throw err;
    }
    await sendConfirmation(user);
    res.status(201).json({ id: user.id, emailStatus: 'sent' });
  } catch (err) {
    next(err);
  }
});

app.get('/health', (_req, res) => res.json({ ok: true, mode: 'inline', delayMs }));

// Body-parser's own errors (malformed JSON, too large) keep their status.
app.use((err, _req, res, _next) =>
  res.status(err.status ?? 500).json({ error: err.type ?? err.message }),
);

await mongoose.connect(setting('MB_MONGO_URI'), { autoIndex: true });
await User.init(); // the unique indexes exist before the first sign-up
const server = app.listen(port, '127.0.0.1', () =>
  console.log(`express-inline listening on 127.0.0.1:${server.address().port}`),
);
for (const signal of ['SIGTERM', 'SIGINT'])
  process.on(signal, () => server.close(() => mongoose.disconnect().then(() => process.exit(0))));
