// MathJax 3 configuration for the site (loaded before MathJax itself).
// pymdownx.arithmatex (generic mode) wraps every equation of the Markdown pages and
// of the API docstrings in an element of class "arithmatex", using \( \) and \[ \].
// Notebook pages come from nbconvert, which keeps the notebook's own $ and $$ inside
// a "jupyter-wrapper" element. So: the page body (md-content) is ignored, except for
// arithmatex elements and whole notebooks, where both kinds of delimiters are typeset.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: "md-content",
    processHtmlClass: "arithmatex|jupyter-wrapper",
  },
};

// Typeset again whenever Material swaps the page content in place.
document$.subscribe(() => {
  if (window.MathJax && MathJax.typesetPromise) {
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    MathJax.typesetPromise();
  }
});
