// Progressive enhancements only: every link works without this file.
(function () {
  "use strict";
  document.querySelectorAll(".share a[data-copy]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!navigator.clipboard) return;
      event.preventDefault();
      navigator.clipboard.writeText(link.dataset.copy).then(function () {
        link.textContent = "نُسخ الرابط";
      });
    });
  });
  var native = document.querySelector(".share-native");
  if (native && navigator.share) {
    native.hidden = false;
    native.addEventListener("click", function () {
      navigator.share({ title: native.dataset.title, url: native.dataset.url }).catch(function () {});
    });
  }
})();
