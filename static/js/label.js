// Labeling screen: keyboard first. 1-9 pick, Enter accepts suggestions and saves,
// Tab/Shift+Tab move between dimensions, j/k next/previous incident, s skips, ? shows keys.
(() => {
  const screen = document.getElementById("label-screen");
  if (!screen) return;
  const form = document.getElementById("label-form");
  const skipForm = document.getElementById("skip-form");
  const help = document.getElementById("keys-help");
  const saveButton = form.querySelector("button[type=submit]");
  const dimensions = [...form.querySelectorAll("fieldset.dimension")];
  let active = 0;
  let subParent = null; // top-level option whose subcategories the number keys now pick

  const topInputs = (fieldset) => [...fieldset.querySelectorAll("input:not([data-parent])")];
  const childInputs = (fieldset, parent) => [...fieldset.querySelectorAll(`input[data-parent="${parent}"]`)];

  function sync() {
    for (const fieldset of dimensions) {
      const checked = fieldset.querySelector("input:checked");
      const openParent = checked ? checked.dataset.parent || checked.value : null;
      for (const list of fieldset.querySelectorAll(".children")) {
        list.classList.toggle("open", list.dataset.parent === openParent || list.dataset.parent === subParent);
      }
      for (const input of topInputs(fieldset)) {
        input.closest("label").classList.toggle("parent-of-choice", Boolean(checked && checked.dataset.parent === input.value));
      }
      fieldset.classList.toggle("done", Boolean(checked));
    }
  }

  function focusDimension(index) {
    active = (index + dimensions.length) % dimensions.length;
    subParent = null;
    dimensions.forEach((fieldset, position) => fieldset.classList.toggle("active", position === active));
    dimensions[active].scrollIntoView({ block: "nearest" });
    sync();
  }

  function advance() {
    if (active < dimensions.length - 1) focusDimension(active + 1);
    else {
      subParent = null;
      sync();
      saveButton.focus();
    }
  }

  function pick(number) {
    const fieldset = dimensions[active];
    if (subParent) {
      const child = childInputs(fieldset, subParent)[number - 1];
      if (child) {
        child.checked = true;
        advance();
      }
      return;
    }
    const input = topInputs(fieldset)[number - 1];
    if (!input) return;
    if (fieldset.dataset.multi === "true") {
      input.checked = !input.checked; // several values: toggle, Tab moves on
      sync();
      return;
    }
    input.checked = true;
    if (childInputs(fieldset, input.value).length) {
      subParent = input.value; // offer its subcategories next; 0 keeps the category alone
      sync();
    } else advance();
  }

  function acceptSuggestions() {
    for (const fieldset of dimensions) {
      const suggested = fieldset.dataset.suggested;
      if (!fieldset.querySelector("input:checked") && suggested) {
        const input = fieldset.querySelector(`input[value="${CSS.escape(suggested)}"]`);
        if (input) input.checked = true;
      }
    }
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.matches("input[type=text], input[type=search], input[type=date], select, textarea")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (help.open) {
      if (event.key === "?") help.close();
      return;
    }
    if (/^[1-9]$/.test(event.key)) {
      event.preventDefault();
      pick(Number(event.key));
    } else if (event.key === "0" && subParent) {
      event.preventDefault();
      subParent = null;
      advance();
    } else if (event.key === "Enter" && (!target.matches("a, button") || target === saveButton)) {
      // On Save too (where picking the last dimension's value leaves the focus): dimensions
      // passed over still take their suggestion.
      event.preventDefault();
      acceptSuggestions();
      form.requestSubmit();
    } else if (event.key === "Tab" && !target.matches("a, button")) {
      event.preventDefault();
      focusDimension(active + (event.shiftKey ? -1 : 1));
    } else if (event.key === "j") {
      window.location.href = screen.dataset.nextUrl;
    } else if (event.key === "k") {
      history.back();
    } else if (event.key === "s") {
      skipForm.requestSubmit();
    } else if (event.key === "?") {
      help.showModal();
    }
  });
  form.addEventListener("change", sync);
  focusDimension(0);
})();
