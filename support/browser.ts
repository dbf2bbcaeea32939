import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeMjpeg } from './faces.ts';

/**
 * Debian's Chromium driven by playwright-core (Playwright cannot download browsers here). A fake
 * camera plays an .mjpeg file made from real photos (--use-file-for-fake-video-capture).
 */
export function chromiumPath(): string | null {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean) as string[];
  return candidates.find((path) => existsSync(path)) ?? null;
}

/** Why browser tests cannot run here, or null. With REQUIRE_BROWSER=1 (CI) a missing browser is a failure. */
export function browserSkipReason(): string | null {
  if (chromiumPath()) return null;
  const reason = 'Chromium not found (install Debian\'s `chromium` or set CHROMIUM_PATH)';
  if (process.env.REQUIRE_BROWSER === '1') throw new Error(`${reason}; REQUIRE_BROWSER=1 makes this a failure`);
  return reason;
}

/** A fake-camera file that shows each frame for 10 frames, in order (Chromium loops it). Returns the path. */
export async function fakeCamera(frames: Buffer[], file: string): Promise<string> {
  return makeMjpeg(frames.flatMap((frame) => Array<Buffer>(10).fill(frame)), file);
}

export async function launchWithCamera(cameraFile: string): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath()!,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${cameraFile}`,
    ],
  });
}

export const SCREENSHOT_DIR = join(process.cwd(), 'test-output', 'screenshots');

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

export function scratchDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
