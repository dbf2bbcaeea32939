// Camera step: live preview, capture JPEG frames, hand them to the form as files and submit it
// (a normal form post, so the server's 303 redirects are followed by the browser). No inline
// script anywhere (strict CSP); nothing is uploaded until the user presses the button.
//
// With a camera check (data-challenge-url, presentation-attack detection): the page asks the
// server for a challenge (head turns, in an order chosen by the server), shows one prompt at a
// time over the preview, tracks the face in the browser (in a Web Worker: face-api's tiny detector
// and the server's own 68-landmark model, so both read the same yaw) to say "turn a little more"
// and to move to the next prompt, and records a burst of frames with their capture times. The server checks the burst; nothing this page concludes is trusted.
(() => {
  const root = document.querySelector('[data-camera]');
  if (!root) return;
  const form = root.closest('form');
  const video = root.querySelector('video');
  const status = root.querySelector('[data-status]');
  const button = root.querySelector('[data-capture]');
  const input = root.querySelector('[data-frames-input]');
  const errorBox = root.querySelector('[data-camera-error]');
  const errorText = root.querySelector('[data-camera-error-text]');
  const frames = Math.max(1, Math.min(8, Number(root.dataset.frames) || 3));
  const challengeUrl = root.dataset.challengeUrl;
  let stream;

  const say = (text) => { status.textContent = text; };

  const showError = (text) => {
    errorText.textContent = text;
    errorBox.hidden = false;
    root.querySelector('[data-camera-retry]').href = window.location.href;
    button.disabled = true;
    say('');
  };

  const explain = (error) => {
    switch (error && error.name) {
      case 'NotAllowedError':
      case 'SecurityError':
        return 'Camera access was blocked. Allow this site to use the camera in your browser settings, then try again.';
      case 'NotFoundError':
      case 'OverconstrainedError':
        return 'No camera was found. Connect a camera or use a device that has one, then try again.';
      case 'NotReadableError':
      case 'AbortError':
        return 'The camera is in use by another application. Close it and try again.';
      default:
        return 'The camera could not be started (' + (error && error.name ? error.name : 'unknown error') + ').';
    }
  };

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  const canvas = document.createElement('canvas');
  const draw = () => {
    canvas.width = video.videoWidth || 640;
    canvas.height = video.videoHeight || 480;
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    return canvas;
  };
  // Single pictures at 0.92; a burst's frames at 0.85 (up to 40 of them, each far below the 512 kB cap).
  const toJpeg = (c, quality = 0.92) => new Promise((resolve, reject) => {
    c.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('capture failed'))), 'image/jpeg', quality);
  });
  const grab = () => toJpeg(draw());
  const copyOf = (c) => {
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    copy.getContext('2d').drawImage(c, 0, 0);
    return copy;
  };
  // A burst frame's JPEG (0.85), then the copy's pixels are released.
  const encode = (copy) => toJpeg(copy, 0.85).finally(() => { copy.width = 0; });

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError('This browser cannot use a camera here. Camera access needs a secure (https) page and a recent browser.');
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: 'user' },
      });
      video.srcObject = stream;
      await video.play();
      button.disabled = false;
      say(challengeUrl
        ? 'Keep your face inside the oval and press the button; then follow the prompts.'
        : 'Looking for your face: keep it inside the oval, then press the button.');
      if (challengeUrl) tracker.load();
    } catch (error) {
      showError(explain(error));
    }
  }

  const submit = (files) => {
    const transfer = new DataTransfer();
    files.forEach((blob, i) => transfer.items.add(new File([blob], 'frame-' + (i + 1) + '.jpg', { type: 'image/jpeg' })));
    input.files = transfer.files;
    say('Encrypting and matching…');
    stream.getTracks().forEach((track) => track.stop());
    form.submit();
  };

  // ---- the face tracker (feedback only) -------------------------------------------------------
  // It runs in a Web Worker (/static/face-tracker.js, which says why): the page sends it a snapshot
  // of a frame and carries on capturing; the answer (yaw, face width) arrives when it arrives.
  // Without workers or OffscreenCanvas the prompts advance on a timer; the server decides anyway.
  const tracker = {
    loading: Promise.resolve(),
    worker: null, // set once the worker has loaded its models: the tracker is ready
    get ready() { return this.worker !== null; },
    pending: new Map(),
    next: 0,
    load() {
      if (typeof Worker === 'undefined' || typeof OffscreenCanvas === 'undefined' || typeof createImageBitmap === 'undefined') return;
      this.loading = new Promise((resolve) => {
        let worker;
        const stop = () => {
          this.worker = null;
          if (worker) worker.terminate();
          for (const done of this.pending.values()) done({ failed: true });
          this.pending.clear();
          resolve();
        };
        try {
          worker = new Worker('/static/face-tracker.js');
        } catch {
          stop();
          return;
        }
        worker.onerror = stop;
        worker.onmessage = (event) => {
          const message = event.data || {};
          if (message.type === 'ready') {
            this.worker = worker;
            root.dataset.tracker = message.backend; // which TensorFlow.js backend it runs on (tests read it)
            resolve();
          } else if (message.type === 'failed') {
            stop();
          } else if (message.type === 'seen') {
            const done = this.pending.get(message.id);
            this.pending.delete(message.id);
            if (done) done(message);
          }
        };
        // The first look (on the live picture) compiles the kernels: before the prompts.
        createImageBitmap(draw()).then((frame) => worker.postMessage({ type: 'load', frame }, [frame]), () => worker.postMessage({ type: 'load' }));
      });
    },
    // Looks at the live picture again and again, one look at a time and at most every 50 ms (about
    // 40 ms a look on the WASM backend), so that a prompt moves on close to the peak of a turn;
    // hands each answer to onSeen and returns the function that stops it.
    follow(onSeen) {
      let on = true;
      const next = () => {
        if (!on || !this.ready) return;
        const at = performance.now();
        this.look(video).then((seen) => { if (on && !seen.failed) onSeen({ ...seen, at }); }, () => {})
          .finally(() => setTimeout(next, Math.max(0, 50 - (performance.now() - at))));
      };
      next();
      return () => { on = false; };
    },
    look(source) {
      return createImageBitmap(source).then((frame) => new Promise((resolve) => {
        this.next += 1;
        this.pending.set(this.next, resolve);
        this.worker.postMessage({ type: 'look', id: this.next, frame }, [frame]);
      }));
    },
  };

  const brightness = (c) => {
    const small = document.createElement('canvas');
    small.width = 32; small.height = 24;
    const g = small.getContext('2d');
    g.drawImage(c, 0, 0, 32, 24);
    const d = g.getImageData(0, 0, 32, 24).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += (d[i] + d[i + 1] + d[i + 2]) / 3;
    return sum / (d.length / 4);
  };

  const PROMPTS = {
    turn_left: { text: 'Turn your head to your left', more: 'A little more to your left', arrow: '←', side: 1 },
    turn_right: { text: 'Turn your head to your right', more: 'A little more to your right', arrow: '→', side: -1 },
  };
  const promptBox = root.querySelector('[data-prompt]');
  const promptText = root.querySelector('[data-prompt-text]');
  const promptArrow = root.querySelector('[data-prompt-arrow]');
  const progress = root.querySelector('[data-progress]');
  const progressBar = root.querySelector('[data-progress-bar]');
  const prompt = (text, arrow) => {
    promptBox.hidden = false;
    promptText.textContent = text;
    promptArrow.textContent = arrow || '';
    say(text);
  };

  async function challengeCapture() {
    const csrf = form.querySelector('input[name=csrf]').value;
    const response = await fetch(challengeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ csrf }),
      credentials: 'same-origin',
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message || 'The camera check could not be started.');
    form.querySelector('[data-challenge-input]').value = body.challenge;
    say('Preparing the camera check…');
    await Promise.race([tracker.loading, sleep(10_000)]);
    const { intervalMs, maxFrames, maxDurationMs } = body.capture;
    const steps = body.actions.filter((a) => PROMPTS[a]);
    // The page moves on a little before the server's threshold (0.12): the head goes on turning
    // for a moment, and the next prompt's frames show the peak.
    const target = 0.11;
    const shots = [];
    const times = [];
    let t0 = 0;
    let step = -1; // -1: waiting for a straight look
    let after = 0; // frames still to take after the last turn (the way back)
    progress.hidden = false;
    prompt('Look straight at the camera');
    let asked = performance.now();
    // The burst has maxDurationMs once it starts; the straight look that starts it gets 45 s.
    let deadline = performance.now() + 45_000;
    // The tracker follows the live picture beside the capture, never holding it up: frames keep
    // their rhythm however slow the tracker is on this device.
    // `peak` and `against`: the furthest the head has turned the asked way, and the other way,
    // since this prompt appeared, over all the tracker's looks (several between two captures), so
    // that a short turn is not missed.
    let latest = { face: true, yaw: Number.NaN, at: 0 };
    let peak = -Infinity;
    let against = -Infinity;
    let since = 0;
    const toStep = (n) => {
      step = n;
      peak = -Infinity;
      against = -Infinity;
      since = performance.now();
    };
    const stopFollowing = tracker.follow((seen) => {
      latest = seen;
      if (seen.face && step >= 0 && step < steps.length && seen.at >= since) {
        peak = Math.max(peak, PROMPTS[steps[step]].side * seen.yaw);
        against = Math.max(against, -PROMPTS[steps[step]].side * seen.yaw);
      }
    });
    try {
      while (shots.length < maxFrames && performance.now() < deadline) {
        const tick = performance.now();
        const frame = draw();
        const seen = latest;
        if (!seen.face) {
          say(brightness(frame) < 45 ? 'It is too dark: turn on a light or face a window.' : 'We cannot see your face: keep it inside the oval.');
        } else if (seen.width !== undefined && seen.width < 90) {
          say('Come a little closer to the camera.');
        }
        if (step === -1) {
          // Start on a straight look the tracker has just seen, in a frame at most 1.5 s old (or at
          // once, without a tracker).
          const straight = tracker.ready ? seen.face && seen.at >= asked && tick - seen.at < 1500 && Math.abs(seen.yaw) < 0.06 : true;
          if (straight) {
            toStep(0);
            deadline = tick + maxDurationMs;
            t0 = tick; // the burst starts with this frame
            prompt(PROMPTS[steps[0]].text, PROMPTS[steps[0]].arrow);
          }
        }
        if (step >= 0) {
          // A copy of the frame, whose JPEG encoding starts now and is not waited for here: waiting
          // would stretch the rhythm on a busy machine (frames too far apart for the server's
          // checks); encoding all 22 after the burst kept the user waiting 66-91 ms more (18 ms now).
          shots.push(encode(copyOf(frame)));
          times.push(Math.round(tick - t0));
          if (step < steps.length) {
            const want = PROMPTS[steps[step]];
            const elapsed = performance.now() - t0;
            // Without the tracker the prompts advance on a timer (1.8 s a turn).
            const reached = Number.isNaN(seen.yaw) ? elapsed > (step + 1) * 1800 : peak >= target;
            if (reached) {
              toStep(step + 1);
              if (step < steps.length) prompt(PROMPTS[steps[step]].text, PROMPTS[steps[step]].arrow);
              else { prompt('Done: look straight at the camera'); after = 1; }
            } else if (step === 0 && against >= target) {
              // The first turn went the other way: start the burst again from a straight look
              // (the server accepts only the turns asked, in order).
              shots.length = 0;
              times.length = 0;
              toStep(-1);
              asked = performance.now();
              prompt(want.side > 0 ? 'That was your right. Look straight, then turn to your left' : 'That was your left. Look straight, then turn to your right');
            } else if (seen.face && !Number.isNaN(seen.yaw) && want.side * seen.yaw > 0.06) {
              say(want.more);
            }
          } else if ((after -= 1) <= 0) break;
          progressBar.style.width = Math.round((100 * Math.min(step, steps.length)) / steps.length) + '%';
          if (performance.now() - t0 > maxDurationMs) break;
        }
        const wait = intervalMs - (performance.now() - tick);
        if (wait > 0) await sleep(wait);
      }
      promptBox.hidden = true;
      if (shots.length === 0) throw new Error('We could not see you look straight at the camera. Face the camera in good light and press the button again.');
      form.querySelector('[data-times-input]').value = JSON.stringify(times);
      return await Promise.all(shots);
    } finally {
      stopFollowing();
    }
  }

  button.addEventListener('click', async () => {
    if (!form.reportValidity()) return;
    button.disabled = true;
    try {
      if (challengeUrl) {
        submit(await challengeCapture());
        return;
      }
      const shots = [];
      for (let i = 0; i < frames; i += 1) {
        say('Capturing ' + (i + 1) + ' of ' + frames + '… hold still.');
        shots.push(await grab());
        if (i + 1 < frames) await sleep(250);
      }
      submit(shots);
    } catch (error) {
      button.disabled = false;
      say(challengeUrl && error && error.message ? error.message : 'Capture failed, please try again.');
    }
  });

  // Sign-up: the camera starts only once the user has agreed to the processing of their face.
  const consent = form.querySelector('[data-consent]');
  // Locked out (too many failed attempts): the camera waits, with the time left, instead of
  // taking pictures that would only be refused.
  const lockedUntil = Number(root.dataset.lockedSeconds || 0) > 0 ? Date.now() + Number(root.dataset.lockedSeconds) * 1000 : 0;
  if (lockedUntil) {
    const tick = () => {
      const left = Math.ceil((lockedUntil - Date.now()) / 1000);
      if (left <= 0) {
        window.location.reload();
        return;
      }
      const minutes = Math.floor(left / 60);
      say('Too many failed attempts. You can try again in ' + (minutes > 0 ? minutes + ' min ' : '') + (left % 60) + ' s.');
      setTimeout(tick, 1000);
    };
    tick();
  } else if (consent && !consent.checked) {
    say('Tick the box above to agree; then the camera starts.');
    let started = false;
    consent.addEventListener('change', () => {
      if (!consent.checked || started) return;
      started = true;
      start();
    });
  } else {
    start();
  }
})();
