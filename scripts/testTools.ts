// `npm test` starts here: the browser test needs Debian's Chromium (never a downloaded browser).
// As root with apt-get it is installed; otherwise one line says what to install, before any
// lint or test has run.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  if (process.env.CHROMIUM_PATH) {
    console.error(`CHROMIUM_PATH is ${chromium}, but nothing is there: fix or unset it.`);
    process.exit(1);
  }
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    console.error(
      'The browser test needs Chromium: install Debian\'s "chromium" package ' +
        '(apt-get install chromium) or set CHROMIUM_PATH to a Chromium binary.',
    );
    process.exit(1);
  }
  console.error('installing Debian package chromium for the browser test (one-off)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { env, stdio: 'inherit' });
}
