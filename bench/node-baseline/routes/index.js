// GET / renders the chat page with the seed's title (seed, step 5).
var express = require('express');
var router = express.Router();

/* GET home page. */
router.get('/', function (req, res, next) {
  res.render('index', { title: '技术讨论区' });
});

module.exports = router;
