// The upload page: drop a file on the zone, watch the upload's progress, then land on the
// import's own page, which shows the import's progress. Without this script the plain form
// still works. Reads data-max-bytes from the form.
(function () {
  "use strict";

  function sizeText(bytes) {
    if (bytes >= 1e6) return (bytes / 1e6).toFixed(1) + " MB";
    if (bytes >= 1e3) return (bytes / 1e3).toFixed(1) + " kB";
    return bytes + " bytes";
  }

  function setUp(form) {
    const zone = form.querySelector("[data-dropzone]");
    const input = form.querySelector("input[type=file]");
    const fileName = form.querySelector("[data-file-name]");
    const progress = form.querySelector("[data-upload-progress]");
    const status = form.querySelector("[data-upload-status]");
    const button = form.querySelector("[data-upload-button]");
    const maxBytes = Number(form.dataset.maxBytes);

    function checkFile() {
      const file = input.files[0];
      input.setCustomValidity("");
      status.textContent = "";
      if (!file) return;
      fileName.textContent = file.name + " · " + sizeText(file.size);
      if (file.size === 0) {
        input.setCustomValidity(file.name + " is empty (0 bytes).");
      } else if (maxBytes && file.size > maxBytes) {
        input.setCustomValidity(file.name + " is " + sizeText(file.size) + ", above the import limit of " + sizeText(maxBytes) + ".");
      }
      status.textContent = input.validationMessage;
    }

    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.remove("dragging");
      });
    });
    zone.addEventListener("drop", function (event) {
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        checkFile();
      }
    });
    input.addEventListener("change", checkFile);

    form.addEventListener("submit", function (event) {
      if (!input.files.length || !form.checkValidity()) return;
      event.preventDefault();
      const request = new XMLHttpRequest();
      request.open("POST", form.action || window.location.href);
      request.upload.addEventListener("progress", function (progressEvent) {
        if (!progressEvent.lengthComputable) return;
        const percent = Math.round((100 * progressEvent.loaded) / progressEvent.total);
        progress.value = percent;
        status.textContent = "Uploading… " + percent + "%";
      });
      request.addEventListener("load", function () {
        const landed = request.responseURL ? new URL(request.responseURL) : null;
        if (landed && landed.pathname !== window.location.pathname && request.status < 400) {
          window.location.assign(request.responseURL);
          return;
        }
        // The form came back with its errors: show them in place of the old form.
        const page = new DOMParser().parseFromString(request.responseText, "text/html");
        const fresh = page.querySelector("#import-form");
        if (fresh && request.status < 400) {
          document.querySelector("#import-form").replaceWith(fresh);
          setUp(fresh.querySelector("[data-import-form]"));
        } else {
          button.disabled = false;
          progress.hidden = true;
          status.textContent = "The server refused the upload (" + request.status + " " + request.statusText + ").";
        }
      });
      request.addEventListener("error", function () {
        button.disabled = false;
        progress.hidden = true;
        status.textContent = "The upload failed; check the connection and try again.";
      });
      button.disabled = true;
      progress.hidden = false;
      progress.value = 0;
      request.send(new FormData(form));
    });
  }

  const form = document.querySelector("[data-import-form]");
  if (form) setUp(form);
})();
