/* City suggestions follow the chosen province (the city field works as plain text too). */
(function () {
  "use strict";
  function fill(list, cities) {
    list.textContent = "";
    cities.forEach(function (name) {
      var option = document.createElement("option");
      option.value = name;
      list.appendChild(option);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("region-options");
    var list = document.getElementById("city-options");
    var province = document.querySelector("select[data-province]");
    if (!data || !list || !province) return;
    var cities = JSON.parse(data.textContent);
    var all = [].concat.apply([], Object.keys(cities).map(function (k) { return cities[k]; }));
    function update() { fill(list, cities[province.value] || all); }
    province.addEventListener("change", update);
    update();
  });
})();
