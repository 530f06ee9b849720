-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: db.internal    Database: portal
-- ------------------------------------------------------
/*!40101 SET NAMES utf8mb4 */;

DROP TABLE IF EXISTS `integrations`;
CREATE TABLE `integrations` (
  `id` int NOT NULL AUTO_INCREMENT,
  `provider` varchar(64) NOT NULL,
  `api_key` varchar(255) DEFAULT NULL,
  `settings` json DEFAULT NULL,
  `public_key` varchar(255) DEFAULT NULL,
  `created_at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

LOCK TABLES `integrations` WRITE;
INSERT INTO `integrations` VALUES (1,'mailer','6OS0LYacwJkRg9Q3E3VnNHRRSTqjAXnZ5ILfCoAZ','{\"region\":\"eu-west-1\",\"retries\":3}','95AiXvYOMybfi0WglnDMD2kpPYTALeivPRdAt4yoxF4e=','2026-01-04 10:00:00'),(2,'maps',NULL,'{\"style\":\"streets-v12\"}',NULL,'2026-01-04 10:00:00');
INSERT INTO `integrations` VALUES (3,'sms','e8404e12419a88ab8b4c6390272b4d6c','{\"sender\":\"ACME\",\"webhook_token\":\"adB23RDcGbyXAWzpJaB6BiWB0dzk\"}',NULL,'2026-02-11 08:30:00');
UNLOCK TABLES;

LOCK TABLES `users` WRITE;
INSERT INTO `users` (`id`, `email`, `password`, `remember_token`, `password_reset_token`, `name`) VALUES
  (1,'ana@acme.io','$2y$10$DvqPrdQLeXpdYb1vfBG9wmg5CxyaGvvJFodbvMhDz.HuIUGh0qAbO',NULL,NULL,'Ana Souza'),
  (2,'li@acme.io','$2y$10$uH.Q.viwl49gPjO6K6vr5wDsHNN8mCtab.Y0p9wvD6vscau6tpiao',NULL,'4CfzqdpsZxzhC8ohwMtq8Z6CEsWavlQW6dGQWgDL0thmYG7T','Li Wei'),
  (3,'it''s@acme.io','$2y$10$qp2X.zUJJzgifSTdWZjSs15DPaVJGWnGasUGOJ6PDcQ/pYUX9E0c4',NULL,NULL,'O''Brien');
UNLOCK TABLES;
