INSERT INTO users (id, email, password, api_token) VALUES
  (1, 'dev@acme.io', '$2y$10$DVDfOJLZrsakWSB58XgrLV385SrXBx0zD6NU0PR9HvZrwlYYi/Oem', NULL),
  (2, 'qa@acme.io', 'pbkdf2_sha256$600000$TiJJz5sIzVbvrpovxnauxO$YiNi+kNrhl1qdNfTX55GZWCflBNtnTdbEzWxs4loM1c=', 'changeme'),
  (3, 'ops@acme.io', '389681726814730e25b2c2e400bbbd1ba88b9d52c9f38d57d7060294f4f15770', '${API_TOKEN}');
