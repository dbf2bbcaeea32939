// Camera step: live preview, capture a few JPEG frames, hand them to the form as files and submit
// it (a normal form post, so the server's 303 redirects are followed by the browser). No inline
// script anywhere (strict CSP); nothing is uploaded until the user presses the button.
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

  const grab = () => new Promise((resolve, reject) => {
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth || 640;
    canvas.height = video.videoHeight || 480;
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('capture failed'))), 'image/jpeg', 0.92);
  });

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
      say('Looking for your face: keep it inside the oval, then press the button.');
    } catch (error) {
      showError(explain(error));
    }
  }

  button.addEventListener('click', async () => {
    if (!form.reportValidity()) return;
    button.disabled = true;
    try {
      const transfer = new DataTransfer();
      for (let i = 0; i < frames; i += 1) {
        say('Capturing ' + (i + 1) + ' of ' + frames + '… hold still.');
        const blob = await grab();
        transfer.items.add(new File([blob], 'frame-' + (i + 1) + '.jpg', { type: 'image/jpeg' }));
        if (i + 1 < frames) await sleep(250);
      }
      input.files = transfer.files;
      say('Encrypting and matching…');
      stream.getTracks().forEach((track) => track.stop());
      form.submit();
    } catch {
      button.disabled = false;
      say('Capture failed, please try again.');
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
